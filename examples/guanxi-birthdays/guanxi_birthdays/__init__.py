"""Birthday care (生日关怀): a Guanxi module, the worked example of docs/plugin-hooks.md."""
