//! The migrations are embedded at compile time (`db::migrate`); a new migration directory must
//! rebuild this crate, which cargo would not notice on its own.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
