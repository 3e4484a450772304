"""FER2013 as data: loading (folder, zip, CSV), splits and statistics."""
