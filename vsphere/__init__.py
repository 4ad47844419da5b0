"""Server VMs on vSphere from the source of truth: placement plan (pure), vCenter client (pyvmomi), provisioning."""
