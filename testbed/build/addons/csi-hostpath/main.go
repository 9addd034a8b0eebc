// csi-hostpath: the testbed's CSI driver `hostpath.csi.k8s.io` (test
// infrastructure only). A volume is a directory under --data-dir, published
// into pods by a bind mount; a snapshot is a tar archive of that directory;
// a volume created from a snapshot is the archive unpacked into a new
// directory. It also registers itself with the kubelet (the plugin
// registration API that node-driver-registrar serves elsewhere), so one
// container is the whole node plugin. Single node only: no topology, no
// attach, no block volumes, no capacity enforcement, no clones.
//
// The upstream csi-driver-host-path and node-driver-registrar modules are
// not served by the module proxy this project may use; see docs/testbed.md.
package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

const version = "1.0.0"

var (
	driverName = flag.String("drivername", "hostpath.csi.k8s.io", "CSI driver name")
	endpoint   = flag.String("endpoint", "/csi/csi.sock", "CSI socket (the same path in the container and on the host)")
	regDir     = flag.String("registration-dir", "", "kubelet's plugins_registry directory; empty: do not register with the kubelet")
	dataDir    = flag.String("data-dir", "/csi-data-dir", "where volumes and snapshots live")
	nodeID     = flag.String("nodeid", "", "node name")
)

type driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer
	registration.UnimplementedRegistrationServer

	mu sync.Mutex // serialises every volume and snapshot operation
}

// ---- paths and snapshot metadata -------------------------------------------

func validID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return status.Errorf(codes.InvalidArgument, "invalid id %q", id)
	}
	return nil
}

func volDir(id string) string   { return filepath.Join(*dataDir, "volumes", id) }
func snapTar(id string) string  { return filepath.Join(*dataDir, "snapshots", id+".tar") }
func snapMeta(id string) string { return filepath.Join(*dataDir, "snapshots", id+".json") }

type snapInfo struct {
	ID       string `json:"id"`
	SourceID string `json:"source"`
	Created  int64  `json:"created"` // Unix nanoseconds
	Size     int64  `json:"size"`
}

func (s snapInfo) csi() *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId: s.ID, SourceVolumeId: s.SourceID, SizeBytes: s.Size,
		CreationTime: timestamppb.New(time.Unix(0, s.Created)), ReadyToUse: true,
	}
}

func readSnap(id string) (snapInfo, bool, error) {
	var s snapInfo
	b, err := os.ReadFile(snapMeta(id))
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	return s, true, json.Unmarshal(b, &s)
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// ---- identity -----------------------------------------------------------------

func (d *driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: *driverName, VendorVersion: version}, nil
}

func (d *driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{{
		Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}},
	}}}, nil
}

func (d *driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// ---- controller ---------------------------------------------------------------

func (d *driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, c := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{
			Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: c}},
		})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func checkCaps(caps []*csi.VolumeCapability) error {
	if len(caps) == 0 {
		return status.Error(codes.InvalidArgument, "volume capabilities missing")
	}
	for _, c := range caps {
		if c.GetBlock() != nil {
			return status.Error(codes.InvalidArgument, "block volumes are not supported")
		}
	}
	return nil
}

func (d *driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	id := req.GetName()
	if err := validID(id); err != nil {
		return nil, err
	}
	if err := checkCaps(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	src := req.GetVolumeContentSource()
	if src != nil && src.GetSnapshot() == nil {
		return nil, status.Error(codes.InvalidArgument, "only snapshots are supported as a volume content source")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	resp := &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId: id, CapacityBytes: req.GetCapacityRange().GetRequiredBytes(), ContentSource: src,
	}}
	dir := volDir(id)
	if exists(dir) { // a retried request: the volume was created before
		return resp, nil
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.MkdirAll(tmp, 0o777); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.Chmod(tmp, 0o777); err != nil { // any pod user may write, as with local-path
		return nil, status.Error(codes.Internal, err.Error())
	}
	if src != nil {
		snapID := src.GetSnapshot().GetSnapshotId()
		if err := validID(snapID); err != nil {
			return nil, err
		}
		if _, ok, err := readSnap(snapID); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		} else if !ok {
			return nil, status.Errorf(codes.NotFound, "snapshot %s not found", snapID)
		}
		if err := untar(snapTar(snapID), tmp); err != nil {
			return nil, status.Errorf(codes.Internal, "restoring snapshot %s: %v", snapID, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	log.Printf("created volume %s (source: %v)", id, src)
	return resp, nil
}

func (d *driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	if err := validID(req.GetVolumeId()); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.RemoveAll(volDir(req.GetVolumeId())); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	log.Printf("deleted volume %s", req.GetVolumeId())
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if err := validID(req.GetVolumeId()); err != nil {
		return nil, err
	}
	if !exists(volDir(req.GetVolumeId())) {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", req.GetVolumeId())
	}
	if err := checkCaps(req.GetVolumeCapabilities()); err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: err.Error()}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeCapabilities: req.GetVolumeCapabilities(),
	}}, nil
}

func (d *driver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	id, source := req.GetName(), req.GetSourceVolumeId()
	if err := validID(id); err != nil {
		return nil, err
	}
	if err := validID(source); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok, err := readSnap(id); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	} else if ok {
		if s.SourceID != source {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot %s exists for volume %s", id, s.SourceID)
		}
		return &csi.CreateSnapshotResponse{Snapshot: s.csi()}, nil
	}
	if !exists(volDir(source)) {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", source)
	}
	if err := os.MkdirAll(filepath.Dir(snapTar(id)), 0o700); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	size, err := tarDir(volDir(source), snapTar(id))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "archiving volume %s: %v", source, err)
	}
	s := snapInfo{ID: id, SourceID: source, Created: time.Now().UnixNano(), Size: size}
	b, _ := json.Marshal(s)
	if err := writeFileSync(snapMeta(id), b); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	log.Printf("created snapshot %s of volume %s (%d bytes)", id, source, size)
	return &csi.CreateSnapshotResponse{Snapshot: s.csi()}, nil
}

func (d *driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	id := req.GetSnapshotId()
	if err := validID(id); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// metadata first: a snapshot without it does not exist any more
	for _, p := range []string{snapMeta(id), snapTar(id)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	log.Printf("deleted snapshot %s", id)
	return &csi.DeleteSnapshotResponse{}, nil
}

func (d *driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	metas, err := filepath.Glob(filepath.Join(*dataDir, "snapshots", "*.json"))
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	sort.Strings(metas)
	resp := &csi.ListSnapshotsResponse{}
	for _, m := range metas {
		s, ok, err := readSnap(strings.TrimSuffix(filepath.Base(m), ".json"))
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if !ok || (req.GetSnapshotId() != "" && s.ID != req.GetSnapshotId()) ||
			(req.GetSourceVolumeId() != "" && s.SourceID != req.GetSourceVolumeId()) {
			continue
		}
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: s.csi()})
	}
	return resp, nil
}

// ---- node -----------------------------------------------------------------------

func (d *driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: *nodeID}, nil
}

func (d *driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// isMountPoint reports whether p is a mount point in this mount namespace.
func isMountPoint(p string) (bool, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMountPath(f[4]) == p {
			return true, nil
		}
	}
	return false, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space ...).
func unescapeMountPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + (c - '0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (d *driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if err := validID(id); err != nil {
		return nil, err
	}
	if target == "" {
		return nil, status.Error(codes.InvalidArgument, "target path missing")
	}
	if err := checkCaps([]*csi.VolumeCapability{req.GetVolumeCapability()}); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	src := volDir(id)
	if !exists(src) {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", id)
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if mounted, err := isMountPoint(target); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	} else if mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
		return nil, status.Errorf(codes.Internal, "bind mount %s on %s: %v", src, target, err)
	}
	if req.GetReadonly() {
		if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			_ = syscall.Unmount(target, 0)
			return nil, status.Errorf(codes.Internal, "read-only remount of %s: %v", target, err)
		}
	}
	log.Printf("published volume %s at %s (read-only: %v)", id, target, req.GetReadonly())
	return &csi.NodePublishVolumeResponse{}, nil
}

func (d *driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if target == "" {
		return nil, status.Error(codes.InvalidArgument, "target path missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		mounted, err := isMountPoint(target)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if !mounted {
			break
		}
		if err := syscall.Unmount(target, 0); err != nil {
			return nil, status.Errorf(codes.Internal, "unmount %s: %v", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	log.Printf("unpublished volume %s from %s", req.GetVolumeId(), target)
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// ---- kubelet plugin registration ------------------------------------------------

func (d *driver) GetInfo(context.Context, *registration.InfoRequest) (*registration.PluginInfo, error) {
	return &registration.PluginInfo{
		Type: registration.CSIPlugin, Name: *driverName, Endpoint: *endpoint, SupportedVersions: []string{version},
	}, nil
}

func (d *driver) NotifyRegistrationStatus(_ context.Context, s *registration.RegistrationStatus) (*registration.RegistrationStatusResponse, error) {
	if !s.GetPluginRegistered() {
		// as node-driver-registrar does: exit, so the container restarts and registers anew
		log.Fatalf("kubelet did not register the plugin: %s", s.GetError())
	}
	log.Printf("registered with the kubelet")
	return &registration.RegistrationStatusResponse{}, nil
}

// ---- tar ------------------------------------------------------------------------

func writeFileSync(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// tarDir archives the tree under dir (not dir itself) into out; returns its size.
func tarDir(dir, out string) (int64, error) {
	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 {
			return nil // sockets, fifos, devices: not data
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		h.Uname, h.Gname = "", "" // numeric owners only
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return size, os.Rename(tmp, out)
}

// untar unpacks an archive written by tarDir into dir, keeping owners, modes
// and modification times.
func untar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if name == "." || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("unsafe path %q in archive", h.Name)
		}
		p := filepath.Join(dir, name)
		mode := os.FileMode(h.Mode).Perm() | os.FileMode(h.Mode)&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{p, h.ModTime})
		case tar.TypeReg:
			out, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
			if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
				return err
			}
			continue
		default:
			continue
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if err := os.Chtimes(p, h.ModTime, h.ModTime); err != nil {
				return err
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- { // after their contents were written
		if err := os.Chtimes(dirs[i].path, dirs[i].t, dirs[i].t); err != nil {
			return err
		}
	}
	return nil
}

// ---- main -----------------------------------------------------------------------

func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if err != nil {
		log.Printf("%s: %v", info.FullMethod, err)
	}
	return resp, err
}

func listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return net.Listen("unix", path)
}

func main() {
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.LUTC)
	if *nodeID == "" {
		log.Fatal("--nodeid is required")
	}
	for _, d := range []string{"volumes", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(*dataDir, d), 0o700); err != nil {
			log.Fatal(err)
		}
	}
	d := &driver{}
	srv := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)
	l, err := listen(*endpoint)
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(srv.Serve(l)) }()
	log.Printf("%s %s serving CSI on %s, data in %s", *driverName, version, *endpoint, *dataDir)

	var regSock string
	if *regDir != "" {
		// the kubelet's plugin watcher finds this socket and calls GetInfo
		regSock = filepath.Join(*regDir, *driverName+"-reg.sock")
		reg := grpc.NewServer()
		registration.RegisterRegistrationServer(reg, d)
		rl, err := listen(regSock)
		if err != nil {
			log.Fatal(err)
		}
		go func() { log.Fatal(reg.Serve(rl)) }()
		log.Printf("registration socket %s", regSock)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	log.Printf("stopping on %v", <-sig)
	if regSock != "" {
		os.Remove(regSock) // the kubelet deregisters the driver
	}
	srv.GracefulStop()
	os.Remove(*endpoint)
}
