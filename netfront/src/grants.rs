//! Pages granted to the backend and their quarantine: the platform's
//! (`xen_platform::granted`), shared with blkfront.

pub(crate) use xen_platform::granted::{Granted, Quarantine};
