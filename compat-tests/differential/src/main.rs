//! `sluice-differential BOOTSTRAP CASE`: sends one case's fixed sequence of raw Kafka requests to
//! the broker at BOOTSTRAP and prints every response, normalized (throttle times, ids, hosts,
//! ports and error-message texts replaced by placeholders; see `normalize`). The compat harness
//! (compat-tests/differential/run.sh) runs each case against Apache Kafka and against Sluice and
//! compares the two transcripts line by line, so every field of every response is compared.
//!
//! `sluice-differential list` prints the case names. Topic and group names start with the
//! prefix in `DIFF_PREFIX` (default `diff`), so that reruns against one broker do not collide.

mod cases;
mod client;
mod normalize;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd] if cmd == "list" => {
            for (name, _) in cases::CASES {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        [bootstrap, case] => {
            let Some((_, run)) = cases::CASES.iter().find(|(n, _)| n == case) else {
                eprintln!("unknown case {case:?}; `sluice-differential list` names them");
                return ExitCode::from(2);
            };
            let prefix = std::env::var("DIFF_PREFIX").unwrap_or_else(|_| "diff".to_string());
            let mut ctx = match cases::Ctx::connect(bootstrap, &prefix) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("cannot connect to {bootstrap}: {e:#}");
                    return ExitCode::from(3);
                }
            };
            match run(&mut ctx) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // The transcript so far is on stdout; the failure is part of it, so that a
                    // broker that closes the connection shows up as a difference.
                    println!("!! case stopped: {e:#}");
                    eprintln!("case {case} stopped: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        _ => {
            eprintln!("usage: sluice-differential BOOTSTRAP CASE | sluice-differential list");
            ExitCode::from(2)
        }
    }
}
