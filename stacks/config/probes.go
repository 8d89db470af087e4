package config

import "io/fs"

// Probes are what the program asks of the machine it runs on (the Mac under `pulumi up`
// and `pulumi preview`; stacks.Mac is the real one). Loading and validation stay pure:
// they only call it. Offline runs pass none, since what they declare must not depend on
// the machine that renders.
type Probes interface {
	// Stat looks at a file, so that a missing build checkout is reported with the
	// configuration's problems.
	Stat(path string) (fs.FileInfo, error)
	// ObserveVM looks at the Colima VM of profile (colima.Observer): generation changes
	// when the VM is not running, so that pulumi up brings it back, and daemon when its
	// Docker daemon is new, so that the images are built again. dryRun: a preview,
	// which keeps nothing.
	ObserveVM(profile string, dryRun bool) (generation, daemon string, err error)
}
