"""Claims: filing, following and settling complaints, returns and warranty
cases, with their files, their thread, their SLA and the ERP's decisions."""
