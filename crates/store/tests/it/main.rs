//! The store conformance suite: every test runs on SQLite, and on
//! PostgreSQL when SMARKETING_TEST_DATABASE_URL is set.

mod conformance;
mod migrations;
mod tables;
