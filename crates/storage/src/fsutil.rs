//! Small file-system helpers.

use std::io::Write;
use std::path::Path;

/// Write `data` to `tmp`, fsync it, rename it over `path`, and fsync the directory, so that a
/// crash leaves either the old or the new file.
pub fn write_atomically(tmp: &Path, path: &Path, data: &[u8]) -> std::io::Result<()> {
    {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
