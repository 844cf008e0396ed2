//! Each table is declared once: [`record!`](crate::record) writes the row
//! type, its column list, its write list, its bound values and its row reader
//! from one list of fields, so two same-typed columns can never be swapped
//! between those lists. A field's type says how it is stored ([`Columns`]).

use crate::StoreError;
use crate::sql::Arg;
use smarketing_core::{
    ActivityKind, ActivityOutcome, DealStatus, Decision, Instant, Role, Stage, StageCause, Team,
};
use sqlx::Row;
use sqlx::any::AnyRow;

/// How a field is kept: the columns it takes under its name, how it is
/// read from a row and how it is bound. Most fields are one column of the
/// same name; a group (a contact's first touch) is several under a prefix.
pub trait Columns: Sized {
    /// The column names of a field called `name`.
    fn names(name: &'static str) -> Vec<String> {
        vec![name.to_string()]
    }
    fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError>;
    /// Appends its values, in the order of [`Columns::names`].
    fn args(&self, out: &mut Vec<Arg>);
}

pub fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(StoreError::from_sqlx)
}

/// Types sqlx reads and binds as they are.
macro_rules! plain_columns {
    ($($ty:ty),*) => {$(
        impl Columns for $ty {
            fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
                get(row, name)
            }
            fn args(&self, out: &mut Vec<Arg>) {
                out.push(self.clone().into());
            }
        }
    )*};
}
plain_columns!(i64, Option<i64>, f64, String, Option<String>);

impl Columns for Option<f64> {
    fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
        get(row, name)
    }
    fn args(&self, out: &mut Vec<Arg>) {
        out.push(Arg::Float(*self));
    }
}

/// A flag kept as 0 or 1: the `Any` driver has no boolean.
impl Columns for bool {
    fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
        Ok(get::<i64>(row, name)? != 0)
    }
    fn args(&self, out: &mut Vec<Arg>) {
        out.push(i64::from(*self).into());
    }
}

/// Instants are integer milliseconds since the epoch.
impl Columns for Instant {
    fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
        let ms: i64 = get(row, name)?;
        Instant::from_millis(ms).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
    }
    fn args(&self, out: &mut Vec<Arg>) {
        out.push(Arg::Int(Some(self.millis())));
    }
}

impl Columns for Option<Instant> {
    fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
        let ms: Option<i64> = get(row, name)?;
        ms.map(|m| Instant::from_millis(m).map_err(|e| StoreError::Corrupt(format!("{name}: {e}"))))
            .transpose()
    }
    fn args(&self, out: &mut Vec<Arg>) {
        out.push(Arg::Int(self.map(Instant::millis)));
    }
}

/// JSON kept as its text.
impl Columns for serde_json::Value {
    fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
        let text: String = get(row, name)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
    }
    fn args(&self, out: &mut Vec<Arg>) {
        out.push(self.to_string().into());
    }
}

/// Declares types kept as their JSON text.
#[macro_export]
macro_rules! json_columns {
    ($($ty:ty),*) => {$(
        impl $crate::table::Columns for $ty {
            fn read(row: &::sqlx::any::AnyRow, name: &str) -> Result<Self, $crate::StoreError> {
                let text: String = $crate::table::get(row, name)?;
                ::serde_json::from_str(&text)
                    .map_err(|e| $crate::StoreError::Corrupt(format!("{name}: {e}")))
            }
            fn args(&self, out: &mut Vec<$crate::sql::Arg>) {
                let text = ::serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
                out.push(text.into());
            }
        }
    )*};
}

/// Closed sets kept as their text.
macro_rules! text_columns {
    ($($ty:ty),*) => {$(
        impl Columns for $ty {
            fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
                let s: String = get(row, name)?;
                s.parse().map_err(|e: smarketing_core::Invalid| {
                    StoreError::Corrupt(format!("{name}: {}", e.message))
                })
            }
            fn args(&self, out: &mut Vec<Arg>) {
                out.push(self.as_str().into());
            }
        }

        impl Columns for Option<$ty> {
            fn read(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
                let s: Option<String> = get(row, name)?;
                s.map(|s| {
                    s.parse().map_err(|e: smarketing_core::Invalid| {
                        StoreError::Corrupt(format!("{name}: {}", e.message))
                    })
                })
                .transpose()
            }
            fn args(&self, out: &mut Vec<Arg>) {
                out.push(self.map(|v| v.as_str()).into());
            }
        }
    )*};
}
text_columns!(
    Stage,
    StageCause,
    Team,
    Role,
    DealStatus,
    ActivityKind,
    ActivityOutcome,
    Decision
);

/// Reads a record from a row of its table.
pub trait FromRow: Sized {
    /// The columns, in `SELECT` order.
    fn columns() -> &'static str;
    fn from_row(row: &AnyRow) -> Result<Self, StoreError>;
}

/// A record kept in a table of its own: what generic insert, update, get,
/// keyset page and upsert need.
pub trait Table: FromRow {
    const TABLE: &'static str;
    /// Columns (or column-name prefixes) a re-import — an upsert by
    /// external id — leaves as they are: state the system keeps, not data
    /// the file carries.
    const KEEP_ON_UPSERT: &'static [&'static str] = &[];
    /// Every column but `id`, in the order of [`Table::write_args`].
    fn write() -> &'static [String];
    fn write_args(&self) -> Vec<Arg>;
    fn id(&self) -> i64;
}

/// Declares a record read from rows: the struct, and [`FromRow`] with its
/// column list made from the fields, one column per field of the same name
/// (a group field, several). With `in "table"` (and optionally `keep
/// [...]`), also [`Table`]: the write list and bound values; such a record's
/// first field is `id`, which the database assigns.
#[macro_export]
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident in $table:literal $(keep [$($keep:literal),* $(,)?])? {
            $(#[$idmeta:meta])*
            pub id: i64,
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $crate::record! {
            $(#[$meta])*
            pub struct $name {
                $(#[$idmeta])*
                pub id: i64,
                $( $(#[$fmeta])* pub $field: $ty ),*
            }
        }

        impl $crate::table::Table for $name {
            const TABLE: &'static str = $table;
            $( const KEEP_ON_UPSERT: &'static [&'static str] = &[$($keep),*]; )?

            fn write() -> &'static [String] {
                static WRITE: ::std::sync::OnceLock<Vec<String>> = ::std::sync::OnceLock::new();
                WRITE.get_or_init(|| {
                    let mut names = Vec::new();
                    $( names.extend(<$ty as $crate::table::Columns>::names(stringify!($field))); )*
                    names
                })
            }

            fn write_args(&self) -> Vec<$crate::sql::Arg> {
                let mut args = Vec::new();
                $( $crate::table::Columns::args(&self.$field, &mut args); )*
                args
            }

            fn id(&self) -> i64 {
                self.id
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        impl $crate::table::FromRow for $name {
            fn columns() -> &'static str {
                static COLUMNS: ::std::sync::OnceLock<String> = ::std::sync::OnceLock::new();
                COLUMNS.get_or_init(|| {
                    let mut names: Vec<String> = Vec::new();
                    $( names.extend(<$ty as $crate::table::Columns>::names(stringify!($field))); )*
                    names.join(", ")
                })
            }

            fn from_row(row: &::sqlx::any::AnyRow) -> Result<Self, $crate::StoreError> {
                Ok($name {
                    $( $field: <$ty as $crate::table::Columns>::read(row, stringify!($field))?, )*
                })
            }
        }
    };
}
