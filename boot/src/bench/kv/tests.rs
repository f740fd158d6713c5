//! Host tests of the kv benchmark's command lines, output parsing and tables.

use super::guest::{config_pairs, last_lines};
use super::report::{details, ratios, table};
use super::*;

#[test]
fn reads_redis_benchmarks_quiet_output() {
    // As redis-benchmark 7.0 prints it with -q: progress ended by '\r', results by '\n'.
    let text = "\rSET: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r                 \
                \rSET: rps=3012.0 (overall: 3012.0) avg_msec=15.2 (overall: 15.2)\r\
                SET: 3012.05 requests per second, p50=15.239 msec\n\
                GET: 3405.30 requests per second, p50=14.100 msec\n\
                \rINCR: rps=2950.1 (overall: 2950.1) avg_msec=16.0 (overall: 16.0)\r\
                Error from server: ERR unknown command 'INCR'\n";
    let (rates, notes) = redis_benchmark::parse(text);
    assert_eq!(
        rates,
        [("SET".to_string(), 3012.05), ("GET".to_string(), 3405.30)]
    );
    assert_eq!(notes, ["Error from server: ERR unknown command 'INCR'"]);
    let out = Output {
        rates,
        ..Output::default()
    };
    assert_eq!(out.rate("GET"), Some(3405.30));
    assert_eq!(out.rate("LPOP"), None);
}

#[test]
fn result_lines_with_and_without_latency() {
    // 7.0 adds the median latency; older ones end at "per second".
    let (rates, notes) = redis_benchmark::parse(
        "LPUSH: 25000.00 requests per second\nLPOP: 1538461.50 requests per second, p50=0.287 msec\n",
    );
    assert_eq!(rates.len(), 2, "{rates:?}");
    assert_eq!(rates[1], ("LPOP".to_string(), 1_538_461.5));
    assert!(notes.is_empty());
    // A line that only looks like one is a note, not a result.
    let (rates, notes) = redis_benchmark::parse("SET: many requests per second\n");
    assert!(rates.is_empty());
    assert_eq!(notes.len(), 1);
}

#[test]
fn redis_benchmark_command_is_bounded_and_has_the_issues_options() {
    let words = qemu::shell_words(&redis_benchmark::command(
        "192.168.100.2",
        6379,
        100_000,
        16,
    ));
    assert_eq!(
        words,
        "timeout -k 5 5120 redis-benchmark -h 192.168.100.2 -p 6379 \
         -t set,get,incr,lpush,lpop -n 100000 -c 50 -P 16 -q"
    );
    assert!(redis_benchmark::time_limit(5000) < redis_benchmark::time_limit(100_000));
}

#[test]
fn kv_runs_on_tcg_with_a_tap_and_the_durable_one_with_its_disk() {
    let none = kv_config(Path::new("kv.elf"), "uk-bench-1-0", None);
    let words = qemu::shell_words(&none.command());
    assert!(
        words.starts_with("ip netns exec uk-bench-1-0 qemu-system-x86_64 "),
        "{words}"
    );
    assert!(words.contains("-m 256 "), "{words}");
    assert!(words.contains("-accel tcg -cpu max"), "{words}");
    assert!(words.contains("-netdev tap,"), "{words}");
    assert!(!words.contains("-drive"), "{words}");
    assert!(
        words.ends_with("-- --port 6379'") || words.contains("-- --port 6379"),
        "{words}"
    );
    assert!(!words.contains("--persistence"), "{words}");

    let durable = kv_config(
        Path::new("kv.elf"),
        "uk-bench-1-0",
        Some(Path::new("d.img")),
    );
    let words = qemu::shell_words(&durable.command());
    assert!(
        words.contains(
            "file=d.img,format=raw,if=none,id=vd0,werror=report,rerror=report,cache=none,aio=native"
        ),
        "{words}"
    );
    assert!(
        words.contains("-- --port 6379 --persistence durable --disk vda"),
        "{words}"
    );
}

#[test]
fn linux_gets_kvs_cpu_globals_nic_and_drive_options() {
    let kv = kv_config(Path::new("kv.elf"), "uk-x", Some(Path::new("kv-disk.img")));
    let linux = kv_config(Path::new("kv.elf"), "uk-x", Some(Path::new("kv-ext4.img")));
    let words = linux_words(&linux.command());
    let pick = |words: &[String], option: &str| -> Vec<String> {
        words
            .windows(2)
            .filter(|w| w[0] == option)
            .map(|w| w[1].clone())
            .collect()
    };
    assert_eq!(pick(&words, "-cpu"), ["max"]);
    assert_eq!(pick(&words, "-global"), ["virtio-mmio.force-legacy=off"]);
    assert_eq!(pick(&words, "-netdev").len(), 1);
    let devices = pick(&words, "-device");
    assert_eq!(devices.len(), 2, "{devices:?}");
    assert!(devices.iter().any(|d| d.starts_with("virtio-blk-device")));
    assert!(devices.iter().any(|d| d.starts_with("virtio-net-device")));
    assert!(
        !words
            .iter()
            .any(|w| w.contains("isa-debug-exit") || w == "-kernel")
    );
    // The same -drive options, on the other file.
    let kv_words = linux_words(&kv.command());
    assert_eq!(
        pick(&words, "-drive")[0].replace("kv-ext4.img", "FILE"),
        pick(&kv_words, "-drive")[0].replace("kv-disk.img", "FILE")
    );
    // Without persistence: no disk at all.
    let none = linux_words(&kv_config(Path::new("kv.elf"), "uk-x", None).command());
    assert!(pick(&none, "-drive").is_empty());
    assert_eq!(pick(&none, "-device").len(), 1);
}

#[test]
fn linux_scripts_start_redis_in_each_mode() {
    let none = linux_script(Persistence::None);
    assert!(none.contains(
        "redis-server --port 6379 --protected-mode no --save '' --appendonly no --dir /tmp"
    ));
    assert!(!none.contains("mount"));
    assert!(none.ends_with("barrier ready\n"));
    let durable = linux_script(Persistence::Durable);
    assert!(durable.contains("mount -t ext4 /dev/vda /data || exit 9"));
    assert!(durable.contains("--appendonly yes --appendfsync always --dir /data"));
    // The script travels base64-encoded on a 2 KiB kernel command line.
    assert!(durable.len() < 1000, "{}", durable.len());
}

#[test]
fn native_server_takes_the_same_options_as_the_vm() {
    let args = native::native_args(7000, Path::new("/d"), Path::new("/d/log"));
    assert_eq!(
        args,
        [
            "--port",
            "7000",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/d",
            "--logfile",
            "/d/log"
        ]
    );
}

#[test]
fn config_get_reply_on_one_line() {
    let text = "save\n\nappendonly\nyes\nappendfsync\nalways\ndir\n/data\n";
    assert_eq!(
        config_pairs(text),
        "appendfsync=always appendonly=yes dir=/data save=''"
    );
    assert_eq!(last_lines("a\n\nb\nc\n", 2), "b | c");
    assert_eq!(last_lines("", 2), "(empty)");
}

fn row(system: System, persistence: Persistence, pipeline: u32, rates: &[f64]) -> Row {
    Row {
        system,
        persistence,
        pipeline,
        result: Ok(Output {
            rates: TESTS
                .iter()
                .zip(rates)
                .map(|(t, r)| (t.to_string(), *r))
                .collect(),
            ..Output::default()
        }),
        host: None,
        console_tail: String::new(),
    }
}

#[test]
fn table_ratios_and_problems() {
    let mut kv_durable = row(System::Kv, Persistence::Durable, 1, &[100.0, 200.0]);
    kv_durable.host = Some(BlockStats {
        flush_operations: 50,
        ..BlockStats::default()
    });
    if let Ok(out) = &mut kv_durable.result {
        out.problem = Some("redis-benchmark exited with status 1; no result for INCR".into());
        out.notes = vec!["Error from server: ERR wrong".into()];
    }
    kv_durable.console_tail = "    | kv: oops".into();
    let rows = vec![
        row(System::Kv, Persistence::None, 1, &[6000.0; 5]),
        row(
            System::Linux,
            Persistence::None,
            1,
            &[3000.0, 3000.0, 3000.0, 3000.0, 0.0],
        ),
        kv_durable,
        row(System::Linux, Persistence::Durable, 1, &[50.0; 5]),
        Row {
            result: Err("kv ended with status 2 before it served".into()),
            ..row(System::Kv, Persistence::Durable, 16, &[])
        },
    ];
    let text = table(&rows, 1000);
    let durable = text
        .lines()
        .find(|l| l.starts_with("kv      durable") && l.contains("  1 "))
        .unwrap();
    // 2 finished tests x 1000 requests / 50 flushes.
    assert!(
        durable.contains(" 50 ") && durable.contains(" 40.0"),
        "{text}"
    );
    assert!(durable.contains("incomplete"), "{text}");
    assert!(text.contains("failed (see below)"), "{text}");

    let ratios = ratios(&rows);
    let none = ratios
        .lines()
        .find(|l| l.starts_with("none") && l.contains("  1 "))
        .unwrap();
    // 2.00x for the first four; LPOP's Linux rate of 0 gives no ratio.
    assert_eq!(none.matches("2.00x").count(), 4, "{ratios}");
    assert!(none.trim_end().ends_with('-'), "{ratios}");
    let durable = ratios
        .lines()
        .find(|l| l.starts_with("durable") && l.contains("  1 "))
        .unwrap();
    assert!(
        durable.contains("2.00x") && durable.contains("4.00x"),
        "{ratios}"
    );

    let details = details(
        &rows,
        &["kv none: kv: serving on redis://192.168.100.2:6379".into()],
    );
    assert!(
        details.contains("kv durable -P 16: failed: kv ended with status 2"),
        "{details}"
    );
    assert!(
        details.contains("redis-benchmark: Error from server: ERR wrong"),
        "{details}"
    );
    assert!(details.contains("| kv: oops"), "{details}");
    assert!(details.contains("kv durable -P 1: wr 0 (0 failed), 0 bytes, rd 0, flush 50"));
}

#[test]
fn kvs_qemu_starts_paused_behind_a_first_line() {
    let config = kv_config(Path::new("kv.elf"), "uk-x", None);
    let words = qemu::shell_words(&kv_command(&config, Path::new("/tmp/k.qmp")));
    assert!(
        words.starts_with(
            "sh -c 'echo '\\''kv-bench: starting QEMU (paused)'\\'' && exec \"$@\"' sh \
             ip netns exec uk-x qemu-system-x86_64 "
        ),
        "{words}"
    );
    assert!(
        words.contains("-qmp unix:/tmp/k.qmp,server=on,wait=off -S"),
        "{words}"
    );
}
