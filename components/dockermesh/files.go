package dockermesh

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// How files reach containers whose root file system is read-only.
//
// The Docker provider puts a container's `uploads` into it after creating it and before
// starting it, by copying a tar into "/" (kreuzwerker/terraform-provider-docker,
// resource_docker_container_funcs.go: CopyToContainer(ctx, id, "/", ...)). The daemon
// refuses any copy whose extraction point is on a read-only root file system, volume or
// not (moby v28.5.1 daemon/archive_unix.go, checkWritablePath of "/"). So the files of a
// unit (a service's app and proxy, or the edge) go into a volume of their own through a
// carrier: a container that is created and never started, on no network, whose root is
// writable and whose only mount is that volume. Each container then mounts its own part
// of the volume read-only (a volume subpath, API 1.45): FilesDir for everything under it,
// and a single file where an image reads one at a fixed path (llm-serve's models.yaml).
// Its root stays read-only, and it cannot write its own configuration or keys.

// FilesDir is where a container finds the files the program gives it: its
// configuration, certificates and secrets, read-only.
const FilesDir = "/etc/lamina"

// carrierMount is where a carrier mounts its unit's volume.
const carrierMount = "/files"

// RoleFiles is the label of a files carrier.
const RoleFiles = "files"

// FilesLabel is the label of a container that carries the SHA-256 of its files: a
// change of them replaces the container, which then reads them anew.
const FilesLabel = "lamina.io/files-sha256"

// unitFiles are the files of one unit's containers, by container name.
type unitFiles struct {
	unit   string // the service's name, or "edge"
	byName map[string][]File
	order  []string
}

func newUnitFiles(unit string) *unitFiles {
	return &unitFiles{unit: unit, byName: map[string][]File{}}
}

// add gives container its files; every path is absolute and clean.
func (u *unitFiles) add(container string, files []File) error {
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == FilesDir {
			return fmt.Errorf("%s: file %q is not a clean absolute path of a file", container, f.Path)
		}
	}
	if _, ok := u.byName[container]; !ok {
		u.order = append(u.order, container)
	}
	u.byName[container] = append(u.byName[container], files...)
	return nil
}

// underFilesDir says whether the container reads the file under FilesDir (one mount for
// all of them) rather than at a path of its image's own.
func underFilesDir(p string) bool { return strings.HasPrefix(p, FilesDir+"/") }

// carried is where a file of container lies in the volume.
func carried(container, p string) string { return container + p }

// carrier declares the unit's volume and its carrier, which takes every file of the unit
// into the volume.
func (u *unitFiles) carrier(ctx *pulumi.Context, image string, labels map[string]string, opts ...pulumi.ResourceOption) (*docker.Volume, *docker.Container, error) {
	name := ContainerName(u.unit) + "-files"
	volume, err := docker.NewVolume(ctx, name, &docker.VolumeArgs{
		Name:   pulumi.String(name),
		Labels: volumeLabels(labels, u.unit),
	}, append(opts, ReplaceNamed)...)
	if err != nil {
		return nil, nil, err
	}
	var uploads docker.ContainerUploadArray
	for _, container := range u.order {
		for _, f := range u.byName[container] {
			uploads = append(uploads, &docker.ContainerUploadArgs{
				File: pulumi.String(carrierMount + "/" + carried(container, f.Path)), Content: f.Content,
				// Readable by the container's user, written by nobody: root owns them.
				Permissions: pulumi.String("0444"),
			})
		}
	}
	c := &docker.ContainerArgs{
		Name:        pulumi.String(name),
		Image:       pulumi.String(image),
		NetworkMode: pulumi.String("none"),
		Mounts: docker.ContainerMountArray{&docker.ContainerMountArgs{
			Type: pulumi.String("volume"), Source: volume.Name, Target: pulumi.String(carrierMount),
		}},
		Uploads: uploads,
		Labels:  containerLabels(labels, u.unit, RoleFiles),
		// Created, never started: it runs nothing, and only carries the files in.
		Start:        pulumi.Bool(false),
		MustRun:      pulumi.Bool(false),
		User:         pulumi.String("65534:65534"),
		Capabilities: &docker.ContainerCapabilitiesArgs{Drops: pulumi.ToStringArray([]string{"ALL"})},
		SecurityOpts: pulumi.ToStringArray([]string{"no-new-privileges:true"}),
	}
	carrier, err := docker.NewContainer(ctx, name, c, append(opts, pulumi.DependsOn([]pulumi.Resource{volume}))...)
	if err != nil {
		return nil, nil, err
	}
	return volume, carrier, nil
}

// mount gives container args its files: FilesDir as one read-only mount of its part of
// the volume, each file elsewhere as a read-only mount of its own, and the files' digest
// as a label, so that a change of them replaces the container.
func (u *unitFiles) mount(args *docker.ContainerArgs, container string, volume *docker.Volume) {
	files := u.byName[container]
	if len(files) == 0 {
		return
	}
	ro := func(target, subpath string) *docker.ContainerMountArgs {
		return &docker.ContainerMountArgs{
			Type: pulumi.String("volume"), Source: volume.Name, Target: pulumi.String(target), ReadOnly: pulumi.Bool(true),
			VolumeOptions: &docker.ContainerMountVolumeOptionsArgs{Subpath: pulumi.String(subpath)},
		}
	}
	var mounts docker.ContainerMountArray
	if slices.ContainsFunc(files, func(f File) bool { return underFilesDir(f.Path) }) {
		mounts = append(mounts, ro(FilesDir, carried(container, FilesDir)))
	}
	var contents []any
	for _, f := range files {
		if !underFilesDir(f.Path) {
			mounts = append(mounts, ro(f.Path, carried(container, f.Path)))
		}
		contents = append(contents, pulumi.String(f.Path), f.Content)
	}
	if existing, ok := args.Mounts.(docker.ContainerMountArray); ok {
		mounts = append(existing, mounts...)
	}
	args.Mounts = mounts
	digest := pulumi.All(contents...).ApplyT(func(values []any) string {
		h := sha256.New()
		for _, v := range values {
			fmt.Fprintf(h, "%d:%s\n", len(v.(string)), v)
		}
		return hex.EncodeToString(h.Sum(nil))
	}).(pulumi.StringOutput)
	labels, _ := args.Labels.(docker.ContainerLabelArray)
	args.Labels = append(labels, &docker.ContainerLabelArgs{Label: pulumi.String(FilesLabel), Value: digest})
}

// volumeLabels are a volume's labels, in order: base (the stack's), and its unit's.
func volumeLabels(base map[string]string, unit string) docker.VolumeLabelArray {
	var out docker.VolumeLabelArray
	for _, kv := range sortedLabels(base, map[string]string{ServiceLabel: unit}) {
		out = append(out, &docker.VolumeLabelArgs{Label: pulumi.String(kv[0]), Value: pulumi.String(kv[1])})
	}
	return out
}
