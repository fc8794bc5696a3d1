//! `porchlight serve`: configuration from the flags, then the server library runs.

use anyhow::Context as _;

use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.print_config_reference {
        print!("{}", porchlight_server::config_reference::reference());
        return Ok(());
    }
    let overrides = porchlight_server::ConfigOverrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
    };
    let config = porchlight_server::Config::load(args.config.as_deref(), &overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    if args.check_config {
        let found = runtime.block_on(porchlight_server::check::check(&config));
        for finding in &found {
            let mark = if finding.ok { "ok  " } else { "FAIL" };
            println!("{mark} {}", finding.what);
        }
        if found.iter().any(|f| !f.ok) {
            std::process::exit(1);
        }
        return Ok(());
    }
    porchlight_server::init_logging(&config);
    runtime.block_on(porchlight_server::run(config))?;
    Ok(())
}
