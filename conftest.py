pytest_plugins = ["mes_dev.testing.fixtures"]
