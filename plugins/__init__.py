"""The source of truth as other tools see it: the host view shared by the Ansible inventory plugin
(`ansible_inventory/jinbao.py`), the Nornir inventory plugin (`nornir_inventory.py`) and `jinbao vm`."""
