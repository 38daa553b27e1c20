//! `wire_enum!`: one list of a wire number's known values gives the newtype,
//! its named constants, the name lookup and the printing, so a number is
//! never listed twice (after rustls `msgs/macros.rs` `enum_builder!`).

/// Defines `pub struct Name(pub INT)` from a list `CONST = literal =>
/// "text",`, with an optional `else |n| ...` for names of ranges. The type
/// gets the constants, `ALL` (the listed values in order), `index()` (a
/// value's place in `ALL`), `name()`, and Display and Debug that print
/// "text (n)" or "unknown (n)".
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($int:ty) {
            $( $konst:ident = $value:literal => $text:literal, )*
        }
        $( else $fallback:expr )?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis struct $name(pub $int);

        impl $name {
            $( pub const $konst: $name = $name($value); )*

            /// Every listed value, in the order of the list.
            pub const ALL: &'static [$name] = &[$( $name::$konst ),*];

            /// The value's place in [`Self::ALL`], when it is listed.
            pub fn index(self) -> Option<usize> {
                Self::ALL.iter().position(|v| *v == self)
            }

            /// The name the specification gives this value, if any.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some($text), )*
                    #[allow(unreachable_patterns)]
                    _other => {
                        $( return ($fallback)(_other); )?
                        #[allow(unreachable_code)]
                        None
                    }
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{name} ({})", self.0),
                    None => write!(f, "unknown ({})", self.0),
                }
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(self, f)
            }
        }
    };
}
