//! The app's command-line arguments: the words after `--` on the kernel command line.

use alloc::string::String;

/// Iterator over the arguments, starting with the app's name (like `std::env::args`).
#[derive(Clone, Debug)]
pub struct Args {
    name: Option<&'static str>,
    rest: core::slice::Iter<'static, String>,
}

impl Iterator for Args {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if let Some(name) = self.name.take() {
            return Some(String::from(name));
        }
        self.rest.next().cloned()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() + usize::from(self.name.is_some());
        (n, Some(n))
    }
}

impl ExactSizeIterator for Args {}

/// The arguments, `argv[0]` (the app's name) first.
pub fn args() -> Args {
    Args {
        name: Some(kernel::runtime::app_name()),
        rest: kernel::runtime::args().iter(),
    }
}
