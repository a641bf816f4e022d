pytest_plugins = ["mes_platform.testing.fixtures"]
