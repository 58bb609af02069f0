from stack.conftest import stack, stack_factory, tools  # noqa: F401 (the native-stack fixtures)
