//! Structured logs through `tracing`: levels from `-D`/`-V`, timestamps
//! from `logtime`, output to stderr or the `-l` file. `RUST_LOG` overrides
//! the level filter; `STARLING_LOG_FORMAT=json` switches to JSON lines.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::options::Options;

/// Install the global subscriber. Errors only if the log file cannot be opened.
pub fn init(options: &Options) -> std::io::Result<()> {
    let level = if options.trace {
        "trace"
    } else if options.debug {
        "debug"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = std::env::var("STARLING_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        // A failed log write (stderr's reader gone) is reported with
        // `eprintln!`, which panics on that same broken stderr and would kill
        // whichever task logged, e.g. the signal handler. Drop the line instead.
        .log_internal_errors(false);
    let result = match (&options.log_file, json, options.logtime) {
        (Some(path), _, logtime) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            let builder = builder.with_ansi(false).with_writer(Mutex::new(file));
            if json {
                builder.json().try_init()
            } else if logtime {
                builder.try_init()
            } else {
                builder.without_time().try_init()
            }
        }
        (None, true, _) => builder.json().with_writer(std::io::stderr).try_init(),
        (None, false, true) => builder.with_writer(std::io::stderr).try_init(),
        (None, false, false) => builder
            .without_time()
            .with_writer(std::io::stderr)
            .try_init(),
    };
    // A second init (tests starting several servers) is not an error.
    let _ = result;
    Ok(())
}
