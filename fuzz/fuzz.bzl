"""vigil_fuzz_test: one libFuzzer target that also runs in the plain suite."""

def vigil_fuzz_test(name, srcs, deps = [], data = [], test_tags = []):
    """Defines `<name>_test` and `<name>_fuzzer` from one fuzz target.

    `srcs` define `LLVMFuzzerTestOneInput`; the seed corpus (and every
    regression input) is the folder corpus/<name>/.

      <name>_test    cc_test: replays each file of corpus/<name>/ through the
                     target (plain, --config=asan); fails on a crash or a
                     broken property (FUZZ_CHECK).
      <name>_fuzzer  cc_binary, tagged manual: under --config=fuzz it links
                     libFuzzer (bazel run --config=fuzz //fuzz:<name>_fuzzer
                     -- fuzz/corpus/<name>); otherwise the replay main.
    """
    corpus = name + "_corpus"
    native.filegroup(
        name = corpus,
        srcs = native.glob(["corpus/%s/*" % name], allow_empty = False),
    )
    native.cc_library(
        name = name + "_lib",
        testonly = True,
        srcs = srcs,
        deps = deps + [":fuzz_check"],
        alwayslink = True,
    )
    native.cc_test(
        name = name + "_test",
        size = "small",
        args = ["$(locations :%s)" % corpus],
        data = [":" + corpus] + data,
        tags = test_tags,
        deps = [":%s_lib" % name, ":replay_main"],
    )
    native.cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        data = data,
        linkopts = select({
            ":fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        tags = ["manual"],
        deps = [":%s_lib" % name] + select({
            ":fuzzing": [],
            "//conditions:default": [":replay_main"],
        }),
    )
