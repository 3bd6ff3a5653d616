//! A seeded random operation sequence checked step by step against an
//! in-memory model, then `e2fsck -fn` and debugfs compare the image.

mod common;

use common::model::*;
use common::*;
use rumpcore_ext2::Fs;

#[test]
fn random_ops_match_model_and_e2fsck() {
    if !have_tools("random_ops_match_model_and_e2fsck") {
        return;
    }
    let mut total = 0;
    for (seed, bs, isize, max_off) in [
        (1u64, 1024, 128, 1_200_000u64),
        (2, 1024, 256, 1_200_000),
        (3, 4096, 256, 5_000_000),
        (4, 4096, 128, 5_000_000),
        (5, 1024, 256, 600_000),
    ] {
        let dir = temp_dir("model");
        let img = mkfs(&dir, 32, bs, isize, &[]);
        let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
        fs.set_time(now());
        let mut m = Model::new();
        let mut rng = Rng::new(seed);
        let ops = 500;
        run_ops(&mut fs, &mut m, &mut rng, ops, max_off, |_, _| {}, true).unwrap();
        total += ops;
        verify(&mut fs, &m);
        let dev = unmount(fs);
        std::fs::write(&img, &dev.0).unwrap();
        let (code, out) = e2fsck(&img, "-fn");
        assert_eq!(code, 0, "seed {seed}: e2fsck -fn:\n{out}");
        // debugfs sees the same tree and bytes.
        for (path, node) in &m.nodes {
            match node {
                Node::File(data) => {
                    assert!(
                        debugfs_cat(&img, path) == *data,
                        "seed {seed}: debugfs cat {path}"
                    )
                }
                Node::Dir => {
                    let mut want = m.children(path);
                    want.push(".".into());
                    want.push("..".into());
                    want.sort();
                    assert_eq!(
                        debugfs_ls(&img, path),
                        want,
                        "seed {seed}: debugfs ls {path}"
                    );
                }
            }
        }
        // Our own read-only mount of the unmounted image agrees too.
        let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), true).unwrap();
        verify(&mut fs, &m);
        println!(
            "seed {seed} (bs {bs}, inode {isize}): {ops} ops, {} files, {} dirs, e2fsck clean",
            m.files().len(),
            m.dirs().len()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    println!("model test: {total} operations over 5 seeds");
}
