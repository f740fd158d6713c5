//! Host tests of the store benchmark's parsing and arithmetic.

use super::*;

fn stats(flushes: u64, writes: u64) -> BlockStats {
    BlockStats {
        flush_operations: flushes,
        wr_operations: writes,
        ..BlockStats::default()
    }
}

#[test]
fn parses_storectl_result_lines_and_names_phases() {
    let row = parse_result(
        "bench: result phase=put64 mode=durable writers=64 ops=5000 seconds=0.50 \
         rate=10000.0 p50_us=3000 p99_us=9000 p999_us=12000 guest_flushes=100",
    )
    .unwrap();
    assert_eq!(row.kind, Some(PhaseKind::PutMany));
    assert_eq!(row.mode, "durable");
    assert_eq!((row.ops, row.seconds, row.rate), (5000, 0.5, 10_000.0));
    assert_eq!(row.latency, Some(([3000.0, 9000.0, 12000.0], "put")));
    assert_eq!(row.guest_flushes, Some(100));
    assert_eq!(PhaseKind::of("put1", 1), PhaseKind::PutOne);
    assert_eq!(PhaseKind::of("get", 64), PhaseKind::Get);
    assert_eq!(
        PhaseKind::of("put-compact", 64),
        PhaseKind::PutDuringCompaction
    );
    let get = parse_result(
        "bench: result phase=get mode=durable writers=1 ops=9 seconds=1 rate=9 \
         p50_us=1 p99_us=2 p999_us=3 guest_flushes=0",
    )
    .unwrap();
    assert_eq!(get.latency.unwrap().1, "get");
    // A missing field, a bad number, another line.
    assert!(
        parse_result("bench: result phase=x mode=durable writers=1 ops=1 seconds=1")
            .unwrap_err()
            .contains("without rate=")
    );
    assert!(
        parse_result(
            "bench: result phase=x mode=durable writers=1 ops=1 seconds=fast rate=1 \
             p50_us=1 p99_us=1 p999_us=1 guest_flushes=0"
        )
        .unwrap_err()
        .contains("seconds=fast is not a number")
    );
    assert!(parse_result("bench: mark start").is_err());
}

#[test]
fn flushes_per_phase_are_differences_between_its_marks() {
    let line = |phase: &str, writers: u64, ops: u64| {
        parse_result(&format!(
            "bench: result phase={phase} mode=durable writers={writers} ops={ops} \
             seconds=1 rate=1 p50_us=1 p99_us=1 p999_us=1 guest_flushes=7"
        ))
        .unwrap()
    };
    let mut rows = vec![line("put1", 1, 100), line("put64", 64, 6400)];
    let marks = vec![
        ("put1-start".to_string(), stats(10, 50)),
        ("put1-end".to_string(), stats(110, 250)),
        // Flushes between the phases (the pause) belong to neither.
        ("put64-start".to_string(), stats(112, 260)),
        ("put64-end".to_string(), stats(212, 6660)),
    ];
    attach_marks(&mut rows, &marks).unwrap();
    assert_eq!(rows[0].host.unwrap().flush_operations, 100);
    assert_eq!(rows[0].ops_per_host_flush(), Some(1.0));
    assert_eq!(rows[1].host.unwrap().flush_operations, 100);
    assert_eq!(rows[1].host.unwrap().wr_operations, 6400);
    assert_eq!(rows[1].ops_per_host_flush(), Some(64.0));
    // No flush: no ratio (not infinity).
    let mut get = vec![line("get", 1, 10)];
    attach_marks(
        &mut get,
        &marks[..2]
            .iter()
            .map(|(n, _)| (n.clone(), stats(5, 5)))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(get[0].ops_per_host_flush(), None);
    // Marks that do not pair up, and counts that go backwards.
    assert!(
        attach_marks(&mut rows, &marks[..3])
            .unwrap_err()
            .contains("3 marks for 2 phases")
    );
    let backwards = vec![
        ("a".to_string(), stats(9, 0)),
        ("b".to_string(), stats(8, 0)),
    ];
    assert!(attach_marks(&mut get, &backwards).is_err());
}

/// fio 3.33's JSON, trimmed to what is read (as it prints it, over several lines).
const FIO_JSON: &str = r#"{
  "fio version" : "fio-3.33",
  "jobs" : [
{
  "jobname" : "store",
  "error" : 0,
  "write" : {
    "io_bytes" : 5245568,
    "total_ios" : 40981,
    "runtime" : 2001,
    "iops" : 20480.259870,
    "clat_ns" : {
      "min" : 1282,
      "percentile" : {
        "50.000000" : 2224,
        "99.000000" : 97792,
        "99.900000" : 175104
      }
    }
  },
  "sync" : {
    "total_ios" : 0,
    "lat_ns" : {
      "N" : 40981,
      "percentile" : {
        "50.000000" : 171008,
        "99.000000" : 407552,
        "99.900000" : 864256
      }
    }
  }
}
  ]
}"#;

#[test]
fn parses_fio_json() {
    let row = parse_fio_json(FIO_JSON, 64, "fdatasync=1, ext4").unwrap();
    assert_eq!(row.what, "write+fdatasync, 64 jobs");
    assert_eq!(row.ops, 40981);
    assert_eq!(row.seconds, 2.001);
    assert!((row.rate - 20480.26).abs() < 0.01);
    assert_eq!(
        row.latency,
        Some(([171.008, 407.552, 864.256], "fdatasync"))
    );
    assert_eq!(row.write_clat, Some([2.224, 97.792, 175.104]));
    // As it arrives from the VM: one line (tr -d '\n'), after a warning.
    let one_line = format!("fio: warning{}", FIO_JSON.replace('\n', ""));
    assert_eq!(parse_fio_json(&one_line, 64, "m").unwrap().ops, 40981);
    assert_eq!(
        parse_fio_json(FIO_JSON, 1, "m").unwrap().what,
        "write+fdatasync, 1 job"
    );
    // An error, no JSON, no write group.
    let failed = FIO_JSON.replace("\"error\" : 0", "\"error\" : 5");
    assert!(
        parse_fio_json(&failed, 1, "m")
            .unwrap_err()
            .contains("error 5")
    );
    assert!(parse_fio_json("fio: no such file", 1, "m").is_err());
    assert!(parse_fio_json(r#"{"jobs":[{"error":0}]}"#, 1, "m").is_err());
}

#[test]
fn linux_script_fits_and_brackets_each_row() {
    let script = linux_script(10);
    let line = LinuxVm {
        kernel: "vmlinux".into(),
        initrd: "initramfs.cpio".into(),
        kernel_package: String::new(),
        tsc_khz: Some(2_596_148),
    }
    .cmdline(&script);
    assert!(line.is_ok(), "{script}");
    assert!(script.contains("mount -t ext4 /dev/vda /mnt"));
    assert!(script.contains("--fdatasync=1"));
    assert!(script.contains("--bs=128 "));
    assert!(script.contains("--runtime=10 "));
    assert!(!script.contains("--numjobs=1 \"$@\""));
    assert!(script.contains("\njob 0 --numjobs=1\njob 1 --numjobs=64\n"));
    assert!(script.contains("barrier start-$i; fio \"$@\" --output-format=json"));
}

#[test]
fn ours_runs_the_contracts_bench_command_with_qmp() {
    let mut config = RunConfig::new("k.elf");
    config.disks = vec![DiskSpec {
        path: "d.img".into(),
        read_only: false,
        cache: CacheMode::None,
    }];
    let words = qemu::shell_words(&ours_command(&config, 5000, Path::new("/tmp/q")));
    assert!(
        words.contains(
            "-- bench --writers 64 --puts 5000 --value-size 100 --gets 5000 --pause-ms 700"
        ),
        "{words}"
    );
    assert!(
        words.contains("-qmp unix:/tmp/q,server=on,wait=off"),
        "{words}"
    );
    assert!(words.contains("cache=none,aio=native"), "{words}");
}

#[test]
fn summary_compares_the_many_writer_rows_and_labels_targets() {
    let ours_row = |kind: PhaseKind, rate: f64, p999: f64, flushes: u64| Row {
        what: kind.label(),
        mode: "durable".into(),
        name: "p".into(),
        ops: 6400,
        seconds: 1.0,
        rate,
        latency: Some(([1.0, 2.0, p999], "put")),
        write_clat: None,
        host: Some(stats(flushes, 0)),
        guest_flushes: Some(flushes),
        kind: Some(kind),
    };
    let ours: Column = Ok(vec![
        ours_row(PhaseKind::PutMany, 6000.0, 900.0, 100),
        ours_row(PhaseKind::PutDuringCompaction, 5000.0, 60_000.0, 200),
    ]);
    let mut linux_row = parse_fio_json(FIO_JSON, 64, "fdatasync=1, ext4").unwrap();
    linux_row.rate = 1000.0;
    let text = summary(&ours, &Ok(vec![linux_row]));
    assert!(text.contains("= 6.00x   (target >= 5x: met)"), "{text}");
    assert!(
        text.contains("6400 / 100 = 64.0   (target >= 16: met)"),
        "{text}"
    );
    assert!(
        text.contains("60.0 ms   (target < 50 ms under TCG: missed)"),
        "{text}"
    );
    let text = summary(&Err("no storectl".into()), &Ok(vec![]));
    assert!(text.contains("a side has no result"), "{text}");
}
