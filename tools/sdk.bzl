"""vigil_sdk: the installable SDK (headers, libvigil.a, libvigil.so.N, .pc, CMake).

Bazel 4.2.3 has no cc_static_library, and a linkshared cc_binary keeps only
the objects something references; this rule collects the static archives of
its `deps` (the public targets) and hands them, with the headers and link
flags they carry, to scripts/sdk/make_sdk.sh, which merges the archives,
links the shared library from all of them with an exact symbol map (the
public API only, see there) and packs the tarball.
"""

def _is_shipped_header(f):
    # Our own headers only (not external repositories'), never test helpers.
    return not f.short_path.startswith("../") and "/testing/" not in f.short_path

def _vigil_sdk_impl(ctx):
    archives = []
    link_flags = []
    headers = {}
    for dep in ctx.attr.deps:
        cc = dep[CcInfo]
        for h in cc.compilation_context.headers.to_list():
            if _is_shipped_header(h):
                headers[h.short_path] = h
        for li in cc.linking_context.linker_inputs.to_list():
            for flag in li.user_link_flags:
                if flag not in link_flags:
                    link_flags.append(flag)
            for lib in li.libraries:
                a = lib.pic_static_library or lib.static_library
                if a and a not in archives:
                    archives.append(a)

    archives_txt = ctx.actions.declare_file(ctx.label.name + ".archives")
    ctx.actions.write(archives_txt, "\n".join([a.path for a in archives]) + "\n")
    headers_txt = ctx.actions.declare_file(ctx.label.name + ".headers")
    ctx.actions.write(headers_txt, "".join([
        "%s\t%s\n" % (dest, headers[dest].path)
        for dest in sorted(headers.keys())
    ]))
    flags_txt = ctx.actions.declare_file(ctx.label.name + ".linkflags")
    ctx.actions.write(flags_txt, "\n".join(link_flags) + "\n")

    out = ctx.outputs.out
    templates = ctx.files.templates
    ctx.actions.run_shell(
        inputs = archives + headers.values() + templates + [
            archives_txt,
            headers_txt,
            flags_txt,
            ctx.file.version_header,
            ctx.file._script,
        ],
        outputs = [out],
        command = "bash %s \"$@\"" % ctx.file._script.path,
        arguments = [
            out.path,
            ctx.file.version_header.path,
            archives_txt.path,
            headers_txt.path,
            flags_txt.path,
            templates[0].dirname,
        ],
        mnemonic = "VigilSdk",
        progress_message = "Packing the vigil SDK %s" % out.short_path,
        use_default_shell_env = True,
    )
    return [DefaultInfo(
        files = depset([out]),
        runfiles = ctx.runfiles(files = [out]),
    )]

vigil_sdk = rule(
    implementation = _vigil_sdk_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo]),
        "version_header": attr.label(allow_single_file = True, mandatory = True),
        "templates": attr.label_list(allow_files = True, mandatory = True),
        "out": attr.output(mandatory = True),
        "_script": attr.label(
            default = "//scripts/sdk:make_sdk.sh",
            allow_single_file = True,
        ),
    },
)
