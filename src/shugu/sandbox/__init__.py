"""The sandbox: approved computations on data the consumer can use but never see."""
