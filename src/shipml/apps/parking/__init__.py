"""Parking: the chance of a free street parking space in each Madrid SER neighbourhood, and car-park occupancy.

Pure, platform-independent parts: importers (:mod:`.tickets`, :mod:`.spaces`, :mod:`.occupancy`), the hourly
aggregation (:mod:`.aggregation`), the regulation calendar (:mod:`.calendar`), geography (:mod:`.geo`,
:mod:`.addresses`), the ticket simulator (:mod:`.synthetic`), forecasters (:mod:`.forecasters`) and the
rolling-origin backtest (:mod:`.backtest`).
"""
