import sys

from arcaflow_plugin_sdk import plugin

from arcaflow_plugin_example.plugin import count_words, greet

if __name__ == "__main__":
    sys.exit(plugin.run(plugin.build_schema(greet, count_words)))
