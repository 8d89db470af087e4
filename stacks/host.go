package stacks

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lamina-os/lamina-infra/components/colima"
)

// Mac is the machine the program runs on, as config.Probes: its files, and the Colima VMs
// VMs observes (none when nil: every VM is taken as the last run left it).
type Mac struct {
	VMs *colima.Observer
}

// ThisMac is the Mac `pulumi up` and `pulumi preview` run on, keeping what it observes
// of its VMs under ~/.lamina/colima.
func ThisMac() Mac {
	var m Mac
	if home, err := os.UserHomeDir(); err == nil {
		m.VMs = &colima.Observer{Dir: filepath.Join(home, ".lamina", "colima")}
	}
	return m
}

// Stat looks at a file of the Mac.
func (Mac) Stat(path string) (fs.FileInfo, error) { return os.Stat(path) }

// ObserveVM looks at the Colima VM of profile (colima.Observer.Observe).
func (m Mac) ObserveVM(profile string, dryRun bool) (generation, daemon string, err error) {
	if m.VMs == nil {
		return "", "", nil
	}
	return m.VMs.Observe(profile, dryRun)
}
