//! The screens, one file each: the two login forms, the list screens (users, models,
//! admins, services, events, organizations, trash), each a column
//! declaration and a row function for the one table widget ([`super::table`]), and the usage
//! screen (a chart and a ranked table).

pub mod admins;
pub mod events;
pub mod force_password;
pub mod login;
pub mod models;
pub mod organizations;
pub mod services;
pub mod trash;
pub mod usage;
pub mod usage_chart;
pub mod users;
