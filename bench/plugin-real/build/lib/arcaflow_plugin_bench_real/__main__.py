import sys

from arcaflow_plugin_sdk import plugin

from arcaflow_plugin_bench_real import plugin as steps

if __name__ == "__main__":
    sys.exit(plugin.run(plugin.build_schema(*steps.STEPS)))
