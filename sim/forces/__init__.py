"""Force models of the truth world: Earth gravity (point mass + J2, or EGM2008 spherical harmonics in the
Earth-fixed frame), Sun and Moon third-body gravity, solar radiation pressure with a conical shadow and
NRLMSIS 2.1 drag; see ``sim.forces.model`` for how they are switched and combined."""

from sim.forces.earth import Epoch
from sim.forces.model import ForceModel

__all__ = ["Epoch", "ForceModel"]
