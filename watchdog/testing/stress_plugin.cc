// A tiny shared library the stack-capture stress test dlopen()s and
// dlclose()s in a loop, so captures land while the loader's lock is held.

extern "C" int VigilStressPluginValue() { return 42; }
