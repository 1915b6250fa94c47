"""The offline proof: the program run under Pulumi's mocks (no CLI, no AWS), its resource graph
recorded, the policy pack run over that graph, and the graph kept as a golden snapshot."""
