package config

import (
	"maps"
	"slices"
	"strings"
)

// validateStorage: claims of a class on an existing cluster, and only there, of known
// volumes and access modes, and a model store every llm-serve replica can mount.
func validateStorage(c *Config, ps *problems) {
	s := c.Storage
	key := "lamina:storage"
	classes := s.Class != ""
	for _, name := range slices.Sorted(maps.Keys(s.Volumes)) {
		vk := entryKey(key+".volumes", name)
		if !slices.Contains(DataSubdirs, name) {
			ps.add(vk, "%s is not a volume; allowed: %s", quote(name), strings.Join(DataSubdirs, ", "))
			continue
		}
		v := s.Volumes[name]
		classes = classes || v.Class != ""
		if v.Class != "" && !dns1123.MatchString(v.Class) {
			ps.add(vk+".class", "%s is not a StorageClass name; allowed: a DNS-1123 subdomain", quote(v.Class))
		}
		if v.AccessMode != "" && !slices.Contains([]string{ReadWriteOnce, ReadWriteMany, ReadWriteOncePod}, v.AccessMode) {
			ps.add(vk+".accessMode", "%s is not allowed; allowed: ReadWriteOnce, ReadWriteMany, ReadWriteOncePod", quote(v.AccessMode))
		}
		if v.AccessMode != "" && s.ClassOf(name) == "" {
			ps.add(vk+".accessMode", "applies to a claim of a class, and this volume is a directory of lamina:data.dir; set lamina:storage.class or this volume's class")
		}
	}
	if s.Class != "" && !dns1123.MatchString(s.Class) {
		ps.add(key+".class", "%s is not a StorageClass name; allowed: a DNS-1123 subdomain", quote(s.Class))
	}
	if classes && c.Cluster.Target != TargetExisting {
		ps.add(key, "claims of a StorageClass are for lamina:cluster.target existing; the %s target keeps its volumes in lamina:data.dir: remove lamina:storage", c.Cluster.Target)
		return
	}
	if c.Cluster.Target == TargetExisting && !s.Provisioned() {
		var dirs []string
		for _, name := range DataSubdirs {
			if s.ClassOf(name) == "" {
				dirs = append(dirs, name)
			}
		}
		ps.add(key+".class", "is required with lamina:cluster.target existing, for %s: a volume there is a claim of one of the cluster's StorageClasses, which its provisioner places; a directory of lamina:data.dir on one node is the colima target's; set this, or a class for each of those volumes (lamina:storage.volumes): on several nodes a replicated or shared class, as a node-local one (k3s's local-path) pins each volume to one node",
			strings.Join(dirs, ", "))
	}
	if class := s.ClassOf("models"); class != "" && c.LLM.Replicas > 1 && s.AccessModeOf("models") != ReadWriteMany {
		ps.add(entryKey(key+".volumes", "models")+".accessMode", "is %s, but lamina:llm.replicas is %d: every replica mounts the model store, on any node; set ReadWriteMany (with a class that offers it) or lamina:llm.replicas 1",
			s.AccessModeOf("models"), c.LLM.Replicas)
	}
}
