//! Closed sets of the product's words (team, role, deal status, activity
//! kind, …) as enums that are stored and sent as their snake_case text, the
//! way `Stage` is: parsed once at the boundary, matched exhaustively inside.

/// Declares a closed set: the enum with its text for each value, `ALL`,
/// `as_str`, `Display`, `FromStr` (an [`Invalid`](crate::Invalid) with the
/// given code and field that lists what is allowed) and serde as text.
#[macro_export]
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($code:literal, $field:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(as = $name))]
        $vis enum $name {
            $( $(#[$vmeta])* #[cfg_attr(feature = "openapi", schema(rename = $text))] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text it is stored and sent as.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Invalid;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == t)
                    .ok_or_else(|| {
                        $crate::Invalid::new(
                            $code,
                            $field,
                            format!(
                                "{s:?} is not allowed for {}; expected one of {}",
                                $field,
                                $name::ALL
                                    .iter()
                                    .map(|v| v.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })
            }
        }

        /// Compares with text, so a test can say `cause == "manual"`.
        impl PartialEq<&str> for $name {
            fn eq(&self, text: &&str) -> bool {
                self.as_str() == *text
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|e: $crate::Invalid| ::serde::de::Error::custom(e.message))
            }
        }
    };
}

closed_set! {
    /// The two teams Smarketing aligns.
    pub enum Team ("unknown_value", "team") {
        Marketing = "marketing",
        Sales = "sales",
    }
}

closed_set! {
    /// What a user is in their team; the permission table says what each may do.
    pub enum Role ("unknown_value", "role") {
        Admin = "admin",
        /// The team's lead: marketing lead or sales manager.
        Manager = "manager",
        /// A marketer, or a sales rep.
        Member = "member",
        /// Reads everything and changes nothing (executives).
        Viewer = "viewer",
    }
}

closed_set! {
    /// What an API token may be used for, within its user's permissions:
    /// reading, changing, or also the company-wide settings (users,
    /// webhooks, the playbook).
    pub enum TokenScope ("unknown_value", "scope") {
        Read = "read",
        Write = "write",
        Admin = "admin",
    }
}

closed_set! {
    /// Where a deal stands.
    pub enum DealStatus ("unknown_value", "status") {
        Open = "open",
        Won = "won",
        Lost = "lost",
    }
}

closed_set! {
    /// A sales action on a contact.
    pub enum ActivityKind ("unknown_value", "kind") {
        Call = "call",
        Email = "email",
        Meeting = "meeting",
        Note = "note",
    }
}

closed_set! {
    /// Whether an activity reached the person (a connect) or not (an attempt).
    pub enum ActivityOutcome ("unknown_value", "outcome") {
        Attempt = "attempt",
        Connect = "connect",
    }
}

closed_set! {
    /// What sales decided on a handoff (an open handoff has none yet).
    pub enum Decision ("unknown_value", "decision") {
        Accepted = "accepted",
        Rejected = "rejected",
    }
}

closed_set! {
    /// Why a contact's stage changed, as its stage change records it.
    pub enum StageCause ("unknown_value", "cause") {
        /// The contact was created at its first stage.
        Created = "created",
        /// Someone moved it by hand.
        Manual = "manual",
        /// It came with an import.
        Import = "import",
        /// A hand-raiser touch made it an MQL.
        HandRaiser = "hand_raiser",
        /// Fit and engagement reached the MQL thresholds.
        ScoreThreshold = "score_threshold",
        /// Sales accepted its handoff.
        HandoffAccepted = "handoff_accepted",
        /// Sales rejected its handoff.
        HandoffRejected = "handoff_rejected",
        /// Sales qualified it (SAL to SQL).
        Qualified = "qualified",
        /// A deal was opened for it.
        DealCreated = "deal_created",
        /// Its deal was won.
        DealWon = "deal_won",
        /// Its last open deal was lost: recycled or disqualified by the
        /// playbook's lost-reason mapping.
        DealLost = "deal_lost",
        /// Sales never followed up an SAL: back to marketing.
        NoFollowUp = "no_follow_up",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_unknown_text_names_the_field() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), *r);
        }
        let e = "owner".parse::<Role>().unwrap_err();
        assert_eq!((e.code, e.field.as_str()), ("unknown_value", "role"));
        assert!(
            e.message.contains("admin, manager, member, viewer"),
            "{}",
            e.message
        );
        assert_eq!(" sales ".parse::<Team>().unwrap(), Team::Sales);
    }
}
