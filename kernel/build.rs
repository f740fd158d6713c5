//! Makes `kernel.ld` findable by the linker for every image that links this crate.
//!
//! Search paths propagate to dependents, so an app only needs `-Tkernel.ld`, which the
//! workspace's `.cargo/config.toml` passes for the `x86_64-unknown-none` target.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rerun-if-changed=kernel.ld");
}
