package storage

import (
	_ "embed"

	"github.com/lamina-os/lamina-infra/internal/shell"
)

// DataDirsPart creates the host data directory and its subdirectories, private to their
// owner and writable by every pod; it reads LAMINA_DATA_DIR and LAMINA_DATA_SUBDIRS and
// prints nothing to stdout. It is a part of a script: on a Mac the Colima VM's command
// runs it first, before the VM starts (one step, not two in a row).
//
//go:embed data-dirs.sh
var DataDirsPart string

// DataDirsScript is DataDirsPart as a whole script: a shared stack's command runs it on
// this Mac, inside the directory its platform's VM mounts.
var DataDirsScript = shell.Script("create the host data directories", DataDirsPart)
