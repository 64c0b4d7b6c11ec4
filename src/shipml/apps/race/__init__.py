"""The race app: a live leaderboard of a mass race fed by GPS pings.

The platform-independent heart lives in small modules:

    tracks      read GPX / TCX / CSV activity files into one track frame
    course      a course in local metres: distance along it, checkpoints, spatial index
    matching    vectorised map matching disambiguated by each runner's previous progress
    rules       the sport and the race's thresholds, as one value object
    pings       a micro-batch of pings and the reasons a ping is rejected
    processor   the state of every runner in numpy arrays, advanced batch by batch
    standings   ranks overall and per category, gaps, leaderboard pages
    replay      real track files through the processor in race time
"""
