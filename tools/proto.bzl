"""cc_proto: C++ from a .proto with the system protoc (Debian's protobuf 3.21).

Bazel's native proto_library / cc_proto_library need the protobuf source
repository, which cannot be downloaded here; a genrule running `protoc` from
PATH feeding a cc_library does the same job offline.
"""

def _repo_root():
    repo = native.repository_name()
    return "." if repo == "@" else "external/" + repo[1:]

def cc_proto(name, src, deps = [], visibility = None):
    """Generates <src>.pb.{h,cc} and wraps them in cc_library `name`.

    Args:
      name: the cc_library's name.
      src: one .proto file in this package.
      deps: other cc_proto targets whose .proto files `src` imports.
      visibility: as for cc_library.
    """
    base = src[:-len(".proto")]
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = [base + ".pb.h", base + ".pb.cc"],
        # The proto path is the repository's root: "." here, external/vigil
        # when another workspace builds vigil as an external repository
        # (imports and generated #includes stay "health/proto/...").
        cmd = "root=%s; protoc --proto_path=$$root --cpp_out=$(GENDIR)/$$root $(location %s)" % (
            _repo_root(),
            src,
        ),
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [base + ".pb.cc"],
        hdrs = [base + ".pb.h"],
        copts = ["-Wno-unused-parameter"],
        deps = deps + ["//third_party:protobuf"],
        visibility = visibility,
    )
