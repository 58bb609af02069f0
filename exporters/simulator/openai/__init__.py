"""The simulated OpenAI Costs and Usage APIs."""
