//! Builds kept in the package cache (dom0's boot files, the Linux DomU's):
//! rebuilt in a scratch folder only when the manifest of their inputs
//! changed or an output is missing.

use crate::error::{io_at, Error, Result};
use std::fs;
use std::io;
use std::path::Path;

/// Returns at once when `out/manifest` reads `manifest` and every one of
/// `outputs` exists. Otherwise runs `build` with an empty scratch folder
/// under `out` (removed afterwards, also when the build fails) and then
/// records the manifest.
pub fn ensure(
    out: &Path,
    manifest: &str,
    outputs: &[&Path],
    build: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let manifest_path = out.join("manifest");
    let fresh = fs::read_to_string(&manifest_path).is_ok_and(|m| m == manifest)
        && outputs.iter().all(|p| p.exists());
    if fresh {
        return Ok(());
    }
    fs::create_dir_all(out).map_err(io_at(out))?;
    let root = out.join(format!("root-{}", std::process::id()));
    remove_tree(&root)?;
    fs::create_dir_all(&root).map_err(io_at(&root))?;
    let built = build(&root);
    let removed = remove_tree(&root);
    built?;
    removed?;
    fs::write(&manifest_path, manifest).map_err(io_at(&manifest_path))
}

/// Removes a folder tree if it exists. Removing a large tree was seen to fail
/// once with "Directory not empty" on these machines and succeed when
/// repeated, so it is tried a few times.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    let mut last = None;
    for _ in 0..3 {
        match fs::remove_dir_all(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Io {
        path: path.to_path_buf(),
        source: last.expect("the loop ran"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_once_per_manifest_and_cleans_its_scratch() {
        let out = std::env::temp_dir().join(format!("rumpx-build-cache-{}", std::process::id()));
        let _ = fs::remove_dir_all(&out);
        let output = out.join("product");
        let mut builds = 0;
        let mut build = |root: &Path| {
            builds += 1;
            fs::write(root.join("scratch"), "x").unwrap();
            fs::write(&output, "built").unwrap();
            Ok(())
        };
        ensure(&out, "v1", &[&output], &mut build).unwrap();
        ensure(&out, "v1", &[&output], &mut build).unwrap();
        ensure(&out, "v2", &[&output], &mut build).unwrap();
        assert_eq!(builds, 2);
        let left: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}"); // manifest and product
        let failed = ensure(&out, "v3", &[&output], |_| {
            Err(Error::TestHost("boom".into()))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read_to_string(out.join("manifest")).unwrap(), "v2");
        fs::remove_dir_all(&out).unwrap();
    }
}
