//! `porchlight serve`: configuration from the flags, then the server library runs.

use anyhow::Context as _;

use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = porchlight_server::ConfigOverrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
    };
    let config = porchlight_server::Config::load(args.config.as_deref(), &overrides)?;
    porchlight_server::init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(porchlight_server::run(config))?;
    Ok(())
}
