//! Shared state of the handlers.

use mama_core::ops::Mama;

#[derive(Clone)]
pub struct AppState {
    pub mama: Mama,
}
