"""Zone isolation as code (issue 11): the policy model, its compilation per site and platform through
Aerleon, the Huawei VRP / H3C Comware generators shipped as Aerleon plugins, and header-space analysis of
what was generated."""
