//! Picks Linux kernel modules out of an unpacked kernel package and orders
//! them so that each comes after the modules it depends on (the `depends=`
//! field of a module's `.modinfo` section), for plain `insmod` at boot.

use crate::error::{io_at, Error, Result};
use object::{Object, ObjectSection};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Module names treat '-' and '_' alike.
fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// Every `*.ko` below `dir`, by normalized module name.
pub fn index_modules(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(io_at(&dir))? {
            let path = entry.map_err(io_at(&dir))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ko"))
            {
                found.insert(normalize(stem), path);
            }
        }
    }
    Ok(found)
}

/// The `depends=` list of a module file's `.modinfo` section.
pub fn module_depends(ko: &[u8]) -> std::result::Result<Vec<String>, String> {
    let file = object::File::parse(ko).map_err(|e| e.to_string())?;
    let modinfo = file
        .section_by_name(".modinfo")
        .ok_or("no .modinfo section")?;
    let data = modinfo.data().map_err(|e| e.to_string())?;
    Ok(data
        .split(|&b| b == 0)
        .filter_map(|field| field.strip_prefix(b"depends="))
        .flat_map(|list| {
            String::from_utf8_lossy(list)
                .split(',')
                .map(normalize)
                .collect::<Vec<_>>()
        })
        .filter(|name| !name.is_empty())
        .collect())
}

/// The files of `wanted` and everything they depend on, dependencies first.
pub fn load_order(index: &BTreeMap<String, PathBuf>, wanted: &[&str]) -> Result<Vec<PathBuf>> {
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    for name in wanted {
        visit(
            index,
            &normalize(name),
            &mut Vec::new(),
            &mut done,
            &mut order,
        )?;
    }
    Ok(order)
}

fn visit(
    index: &BTreeMap<String, PathBuf>,
    name: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
    order: &mut Vec<PathBuf>,
) -> Result<()> {
    if done.contains(name) {
        return Ok(());
    }
    if path.iter().any(|p| p == name) {
        return Err(Error::Dom0Image(format!(
            "module dependency cycle: {} -> {name}",
            path.join(" -> ")
        )));
    }
    let file = index.get(name).ok_or_else(|| {
        Error::Dom0Image(format!(
            "kernel module {name} (needed by {}) is not in the kernel package",
            path.last().map_or("the test host", String::as_str)
        ))
    })?;
    let bytes = fs::read(file).map_err(io_at(file))?;
    let depends =
        module_depends(&bytes).map_err(|e| Error::Dom0Image(format!("{}: {e}", file.display())))?;
    path.push(name.to_string());
    for dep in depends {
        visit(index, &dep, path, done, order)?;
    }
    path.pop();
    done.insert(name.to_string());
    order.push(file.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_dashes() {
        assert_eq!(normalize("xen-netback"), "xen_netback");
    }

    #[test]
    fn missing_modules_are_named() {
        let err = load_order(&BTreeMap::new(), &["xen-blkback"]).unwrap_err();
        assert!(err.to_string().contains("xen_blkback"), "{err}");
    }
}
