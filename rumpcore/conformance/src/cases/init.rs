//! `rumpuser_init`: only version 17 is accepted.

use crate::model::HYPERUP;
use crate::sys;
use crate::util::{ensure, CaseResult};
use crate::Config;

/// 16 and 18 fail, 17 succeeds (again, with the same table).
pub fn version(_: &Config<'_>) -> CaseResult {
    for v in [16, 18] {
        // SAFETY: the static table outlives the platform's use.
        let rv = unsafe { sys::rumpuser_init(v, &HYPERUP) };
        ensure!(rv != 0, "rumpuser_init({v}) succeeded; only 17 may");
    }
    // SAFETY: as above.
    let rv = unsafe { sys::rumpuser_init(17, &HYPERUP) };
    ensure!(rv == 0, "rumpuser_init(17) failed: {rv}");
    Ok(())
}
