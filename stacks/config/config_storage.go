package config

// Storage is where the platform's volumes live. Empty, every volume is a directory of
// data.dir, the Mac's, in the VM (the Colima target); with a class, each volume is a
// claim the cluster's provisioner fills (target existing, where every volume needs one).
// Either way `pulumi destroy` keeps the data: a claim is left in the cluster, with its
// volume and its namespace, for the next `up` to take again.
type Storage struct {
	// Class is the StorageClass of the volumes' claims; empty: the volumes are data.dir's
	// directories. Allowed with lamina:cluster.target existing only, and required there
	// unless every volume names its own: a DNS-1123 subdomain naming a class the cluster
	// provides, on several nodes a replicated or shared one.
	Class string `json:"class"`
	// Volumes are choices per volume (models, prometheus, loki, grafana, chromadb) over
	// class: another class, and the access mode. The model store, which every llm-serve
	// replica reads, must be ReadWriteMany with more than one replica.
	Volumes map[string]VolumeChoice `json:"volumes"`
}

// VolumeChoice is one volume's class and access mode.
type VolumeChoice struct {
	// Class is the volume's StorageClass; empty: lamina:storage.class.
	Class string `json:"class"`
	// AccessMode is ReadWriteOnce (one node mounts it: the default), ReadWriteMany
	// (every node may: a shared file system's class) or ReadWriteOncePod.
	AccessMode string `json:"accessMode"`
}

// Volume access modes.
const (
	ReadWriteOnce    = "ReadWriteOnce"
	ReadWriteMany    = "ReadWriteMany"
	ReadWriteOncePod = "ReadWriteOncePod"
)

// ClassOf is the StorageClass of the volume name's claim, "" when it is a directory of
// data.dir.
func (s Storage) ClassOf(name string) string {
	if v := s.Volumes[name]; v.Class != "" {
		return v.Class
	}
	return s.Class
}

// AccessModeOf is the volume name's access mode.
func (s Storage) AccessModeOf(name string) string {
	if v := s.Volumes[name]; v.AccessMode != "" {
		return v.AccessMode
	}
	return ReadWriteOnce
}

// Provisioned says whether every volume is a claim of a class: no volume needs data.dir.
func (s Storage) Provisioned() bool {
	for _, name := range DataSubdirs {
		if s.ClassOf(name) == "" {
			return false
		}
	}
	return true
}
