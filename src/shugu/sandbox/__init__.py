"""The sandbox (数据可用不可见): analysis rules, the SQL gate, engines and query accounting."""
