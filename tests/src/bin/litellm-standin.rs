//! Runs the LiteLLM stand-in on a fixed port, for benchmarks and manual poking:
//! `litellm-standin [PORT]` (default 4100); the master key is `$STANDIN_MASTER_KEY` or
//! `sk-standin-master-key`. Stops on Ctrl-C.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use mama_tests::standin::{StandIn, StandInConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 4100,
    };
    let master_key =
        std::env::var("STANDIN_MASTER_KEY").unwrap_or_else(|_| "sk-standin-master-key".into());
    let standin = StandIn::start_with(StandInConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        master_key: Some(master_key),
    })
    .await?;
    println!("LITELLM_BASE_URL={}", standin.base_url());
    println!("LITELLM_MASTER_KEY={}", standin.master_key());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
