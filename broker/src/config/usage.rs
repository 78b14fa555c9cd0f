//! The `--help` text: nats-server's option list, limited to what Starling
//! implements.

/// The text printed for `-h` / `--help`.
pub(crate) fn usage_text() -> String {
    USAGE.to_string()
}

const USAGE: &str = "\
Usage: starling [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for random)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to starling process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (same as -V)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (same as -DV)
        --max_traced_msg_len <len>   Accepted for compatibility; no effect

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version

Flags take one or two dashes and a value as `-p 4222` or `--port=4222`.
Flags override the configuration file. Not supported: JetStream (-js, -sd),
HTTPS monitoring (-ms), syslog (-s, -r), --profile, --log_size_limit.
See docs/CONFIG-OPTIONS.md for every config file option.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lists_the_core_flags() {
        let text = usage_text();
        for flag in [
            "--port",
            "--cluster_name",
            "--routes",
            "--signal",
            "--http_port",
            "-DV",
            "--tlsverify",
            "--ports_file_dir",
        ] {
            assert!(text.contains(flag), "{flag}");
        }
    }
}
