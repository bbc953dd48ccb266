"""cc_proto: C++ from a .proto with the system protoc (Debian's protobuf 3.21).

Bazel's native proto_library / cc_proto_library need the protobuf source
repository, which cannot be downloaded here; a genrule running `protoc` from
PATH feeding a cc_library does the same job offline. With `grpc = True` the
same protoc run also runs Debian's gRPC plugin (/usr/bin/grpc_cpp_plugin,
protobuf-compiler-grpc) for the file's services.
"""

_GRPC_PLUGIN = "/usr/bin/grpc_cpp_plugin"

def _repo_root():
    repo = native.repository_name()
    return "." if repo == "@" else "external/" + repo[1:]

def cc_proto(name, src, deps = [], grpc = False, visibility = None):
    """Generates <src>.pb.{h,cc} and wraps them in cc_library `name`.

    Args:
      name: the cc_library's name.
      src: one .proto file in this package.
      deps: other cc_proto targets whose .proto files `src` imports.
      grpc: also generate <src>.grpc.pb.{h,cc} (service stubs and bases)
        into the same library, which then depends on //third_party:grpcpp.
      visibility: as for cc_library.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]

    # The proto path is the repository's root: "." here, external/vigil
    # when another workspace builds vigil as an external repository
    # (imports and generated #includes stay "health/proto/...").
    cmd = "root=%s; protoc --proto_path=$$root --cpp_out=$(GENDIR)/$$root" % _repo_root()
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += " --grpc_out=$(GENDIR)/$$root --plugin=protoc-gen-grpc=" + _GRPC_PLUGIN
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = cmd + " $(location %s)" % src,
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        copts = ["-Wno-unused-parameter"],
        deps = deps + ["//third_party:protobuf"] +
               (["//third_party:grpcpp"] if grpc else []),
        visibility = visibility,
    )
